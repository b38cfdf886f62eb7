// Tests for the Metainfo module.
