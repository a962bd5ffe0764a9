// Joins FCNet and FCStorage (filled in when both land).
