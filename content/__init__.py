"""Plans, themes, content items and the words a voice will speak."""
