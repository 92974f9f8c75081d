"""moodtune."""
