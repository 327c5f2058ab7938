"""`python -m latent` runs the `latent` command line, which lives in the indexer shell.

The one import from the core into a shell, declared in pyproject.toml's import-linter contracts
(`ignore_imports`), so both the linter and a reader see it.
"""

from indexer.cli import main

if __name__ == "__main__":
    main()
