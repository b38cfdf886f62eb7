// Tests for the Identity module.
