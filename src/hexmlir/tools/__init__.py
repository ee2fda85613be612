"""Tools and analyses outside the compile pipeline: each one uses the compiler, none is used by it
(so no stage imports this package, and no import cycle runs through it)."""
