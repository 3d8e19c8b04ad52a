"""Fault-injection suite (marker `fault`): kill, pause, blackhole, reset, compaction, auth, TLS."""
