"""Speech engines, recordings, programme assembly and the media store."""
