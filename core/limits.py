"""How long a stored text may be, defined once.

The models size their columns with these, the services refuse longer values with a 422
naming the field, and the API schemas and page forms announce the same numbers: a value
too long is the same problem on POST, PATCH and a page, on SQLite and PostgreSQL.
"""

CODE_MAX = 64  # station and cluster codes
TITLE_MAX = 300  # titles of content items, bookings, programmes, announcements
NAME_MAX = 200  # names of stations, clusters, devices, programmes' series
URL_MAX = 500  # relay stream addresses
BODY_MAX = 100_000  # content bodies and scripts
NOTE_MAX = 1_000  # review notes, reasons
