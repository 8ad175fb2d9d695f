//! Warden SDK: a client and tower middleware over the shared `warden.v1` proto (to come).
