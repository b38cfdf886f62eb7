// Tests for the Tracker module.
