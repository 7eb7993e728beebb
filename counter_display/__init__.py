"""The counter boxes (LED matrix number display + keypad) and the hall calling board (TV).

``python -m counter_display`` / ``motcua-counter`` runs one counter box;
``python -m counter_display.board`` / ``motcua-board`` runs the hall board.
"""
