"""The one exception type for problems the user can fix (bad file, bad option, bad bundle).

The CLI turns it into a one-line message and a non-zero exit status, never a traceback.
"""


class MedSegError(Exception):
    """A user-facing error: the message names the file or option and says what is wrong."""
