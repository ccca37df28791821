"""What a store holds on disk, file by file: tests compare it before and after an operation that must
change nothing."""

import os


def store_files(store, skip_locks: bool = False) -> dict[str, bytes | str]:
    """Every file under the store's root with its bytes (links: ``-> target``). ``skip_locks`` leaves out
    ``locks/``, whose lock files a keep creates even when it stores nothing."""
    found: dict[str, bytes | str] = {}
    for folder, _dirs, names in os.walk(store.root):
        for name in names:
            full = os.path.join(folder, name)
            if skip_locks and os.path.relpath(full, store.root).startswith("locks" + os.sep):
                continue
            if os.path.islink(full):
                found[full] = "-> " + os.readlink(full)
            else:
                with open(full, "rb") as f:
                    found[full] = f.read()
    return found
