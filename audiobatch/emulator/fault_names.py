"""The names of the faults the emulator can inject, apart from their answers (which need FastAPI),
so that the command line can list them without loading the emulator."""

STATUS_FAULTS = ("500", "503", "busy")
BODY_FAULTS = ("truncate", "disconnect", "malformed", "empty", "slow", "short")
FAULTS = STATUS_FAULTS + BODY_FAULTS
