"""`python -m semsearch`: the same command as the `semsearch` console script."""

from semsearch.cli import main

main()
