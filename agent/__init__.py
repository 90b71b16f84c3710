"""The commune playout agent: pulls playlists and audio, plays on time, reports airings.

It talks to the server only through the public HTTP API with a device token, and keeps
everything it needs to go on playing (playlists, audio, airing records) in its cache
directory, so a commune without network keeps its schedule.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("truyenthanh")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

SOFTWARE = f"truyenthanh-agent/{__version__}"
