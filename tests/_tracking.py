"""Records which test functions ran. Tests reject this module, so its mutable state is not hashed."""

CALLS: list[str] = []


def record(name: str) -> None:
    CALLS.append(name)
