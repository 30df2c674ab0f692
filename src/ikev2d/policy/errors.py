"""Configuration errors: one line each, naming the option, the value and what is allowed.

The CLI prints ``str(error)`` and exits with status 2; ConfigErrors carries every option
that failed on its own (one line each), so an owner fixes them in one go. A secret's value
never reaches the message, the exception's attributes or its repr: it is replaced by
``<hidden>`` at construction.
"""

from __future__ import annotations

__all__ = ["HIDDEN", "ConfigError", "ConfigErrors", "ConfigSyntaxError", "quote_value"]

HIDDEN = "<hidden>"
_MAX_SHOWN = 80  # a pasted certificate should not turn one line into a screenful


def quote_value(value: object) -> str:
    """Show a configuration value on one line: strings quoted, control characters escaped."""
    if value is None or value == "":
        return "(not set)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)  # unquoted, so a TOML string "500" and the number 500 look different
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(quote_value(v) for v in value) + "]"
    text = value if isinstance(value, str) else str(value)
    if len(text) > _MAX_SHOWN:
        text = text[:_MAX_SHOWN] + "..."
    # repr() escapes newlines and other non-printables, which keeps the message on one line
    return repr(text)


class ConfigError(ValueError):
    """An invalid configuration value.

    ``str()`` is ``<option>: <value> <problem> (allowed: <allowed>)``, for example
    ``server.pool: '10.10.10.0/33' is not an IPv4 network (allowed: an IPv4 network like
    10.10.10.0/24, prefix 8..30)``.
    """

    def __init__(
        self,
        option: str,
        value: object,
        allowed: str,
        problem: str = "is not valid",
        *,
        secret: bool = False,
        show_value: bool = True,
    ) -> None:
        self.option = option
        self.show_value = show_value
        # A secret is dropped here, so no later formatting (logs, tracebacks) can show it.
        if not show_value:
            value = None
        self.value = (HIDDEN if value not in (None, "") else None) if secret else value
        self.allowed = allowed
        self.problem = problem
        self.secret = secret
        super().__init__(str(self))

    def __str__(self) -> str:
        shown = self.value if self.secret and self.value else quote_value(self.value)
        text = (
            f"{self.option}: {shown} {self.problem}"
            if self.show_value
            else (f"{self.option}: {self.problem}")
        )
        if self.allowed:
            text += f" (allowed: {self.allowed})"
        return text

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"

    @property
    def problems(self) -> list[str]:
        """One line per problem (status pages and LuCI list them)."""
        return [str(self)]

    # keep pickling (multiprocessing, pytest-xdist) free of the secret
    def __reduce__(self) -> tuple[object, tuple[type[ConfigError], dict[str, object]]]:
        return (_rebuild, (type(self), self.__dict__.copy()))


def _rebuild(cls: type[ConfigError], state: dict[str, object]) -> ConfigError:
    obj = cls.__new__(cls)
    obj.__dict__.update(state)
    ValueError.__init__(obj, str(obj))
    return obj


class ConfigSyntaxError(ConfigError):
    """A configuration file that cannot be read at all: ``<path>:<line>: <message>``."""

    def __init__(self, path: str, line: int | None, message: str) -> None:
        self.path = path
        self.line = line
        self.message = message
        where = f"{path}:{line}" if line is not None else path
        super().__init__(where, None, "", message)

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        return f"{where}: {self.message}"


class ConfigErrors(ConfigError):
    """Several options that failed on their own; its attributes are the first one's, ``str()``
    is every line."""

    def __init__(self, errors: list[ConfigError]) -> None:
        self.errors = tuple(errors)
        first = errors[0]
        super().__init__(first.option, first.value, first.allowed, first.problem,
                         secret=first.secret, show_value=first.show_value)  # fmt: skip

    @staticmethod
    def of(errors: list[ConfigError]) -> ConfigError:
        """The one error, or all of them."""
        return errors[0] if len(errors) == 1 else ConfigErrors(errors)

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)

    @property
    def problems(self) -> list[str]:
        return [str(e) for e in self.errors]
