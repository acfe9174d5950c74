"""Applications built on the library: the command line, the tour, the list of
supported functions and the NIST StRD reader.  Nothing in the library
imports from here."""
