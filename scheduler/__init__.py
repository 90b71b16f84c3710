"""Stations, bookings, playlists and airing logs."""
