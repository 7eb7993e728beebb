"""Reserved: see the project's issues. Empty until its daemon lands."""
