"""``python -m dds.cli ...`` is the ``dds`` command."""

from . import main

if __name__ == "__main__":
    main()
