"""`python -m latent` runs the `latent` command line (which lives in the indexer shell)."""

from importlib import import_module

if __name__ == "__main__":
    import_module("indexer.cli").main()
