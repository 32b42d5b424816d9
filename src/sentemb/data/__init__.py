"""Raw data: sources (mirror or hub, checksums), strict readers, the task registry, prepare."""
