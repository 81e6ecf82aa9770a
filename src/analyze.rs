//! Pipeline wiring
