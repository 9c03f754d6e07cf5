"""Source tasks, their status and checkpoints, and the loop that scans their WALs."""
