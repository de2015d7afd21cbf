__version__ = "15.2"
