//! Warden compiler: name resolution, type checks, lints and lowering to the decision graph (to come).
