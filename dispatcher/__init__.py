"""The dispatcher: the hall's queue authority on the central control box."""
