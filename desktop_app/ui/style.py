"""The colours every page uses for the same meanings (one palette for the whole window).

RED: refused, an error, overdue; AMBER: needs attention (待补充, 冲突, 滞后 warnings);
GREEN: done, imported, on time; BLUE: changed, a link; GREY: unchanged, a hint.
"""
RED, AMBER, GREEN, BLUE, GREY = "#c62828", "#b26a00", "#2e7d32", "#1565c0", "#555555"
ERROR_STYLE = f"color: {RED};"
HINT_STYLE = f"color: {GREY};"
