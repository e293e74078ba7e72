//! tardis-client against the Tardis stand-in.
