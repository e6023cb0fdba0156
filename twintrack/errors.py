"""User-facing errors: one line that says what is wrong and what to do. The CLI prints them, exit status 2."""


class UserError(Exception):
    """A problem with the user's input (file, argument, box, weights), not a bug."""
