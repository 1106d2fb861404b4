"""The `storeforever` command: composes the emulator's and the client's commands into one CLI."""
