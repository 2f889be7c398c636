"""The one entry checker the publisher and the auditor share: the key registry, the election
rules, the block chain, its state, and signatures on all cores. No I/O."""
