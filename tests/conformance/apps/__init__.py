"""Small apps built on real frameworks, served by Pounce in the conformance tests."""
