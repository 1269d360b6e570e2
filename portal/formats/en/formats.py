"""How English pages write dates and times: Indian order, day first, a 24-hour clock (3 Dec 2026, 20:23).

The same names in portal/formats/hi/formats.py; templates and code ask for them by name
(DATE_FORMAT, DATETIME_FORMAT, TIME_FORMAT; SHORT_DATETIME_FORMAT where the second matters, as in
the access log), never with a pattern of their own. Input takes ISO dates and day-first ones.
"""

DATE_FORMAT = "j M Y"
DATETIME_FORMAT = "j M Y, H:i"
TIME_FORMAT = "H:i"
SHORT_DATE_FORMAT = DATE_FORMAT
SHORT_DATETIME_FORMAT = "j M Y, H:i:s"
MONTH_DAY_FORMAT = "j M"
YEAR_MONTH_FORMAT = "F Y"
FIRST_DAY_OF_WEEK = 1  # Monday, as the week of the tallies
DATE_INPUT_FORMATS = ["%Y-%m-%d", "%d-%m-%Y", "%d/%m/%Y"]
DATETIME_INPUT_FORMATS = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d", "%d-%m-%Y %H:%M", "%d/%m/%Y %H:%M"]
