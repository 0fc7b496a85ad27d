"""mailprobe log: mail-server logs read as a stream, summarised and explained."""
