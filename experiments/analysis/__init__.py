"""Statistics on plain arrays (event onset times, motion-energy series, questionnaire scores) for the study analysis."""
