"""The publisher's side: the ledger (append, seal), importing files, exporting tiles, publishing."""
