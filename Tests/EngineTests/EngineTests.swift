// Tests for the Engine module.
