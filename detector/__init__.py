"""The detector: an online River model that scores metric series and says which instances are idle."""
