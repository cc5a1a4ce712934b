"""The capstone projects; ``projects/<name>/`` is the package ``projects.<name>``."""
