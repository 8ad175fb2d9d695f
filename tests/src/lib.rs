//! End-to-end test support: starting real `warden` processes and peers on loopback (to come).
