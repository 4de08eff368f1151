"""The shell every page shares: home, navigation, errors and security headers."""
