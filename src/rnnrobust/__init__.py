"""rnnrobust: reproduce and extend Sengupta & Friston (2018), "How Robust are Deep Neural Networks?".

Importing the package imports nothing heavy; each submodule imports what it needs
(``rnnrobust.spectra`` never imports torch).
"""

__version__ = "0.4.0"
