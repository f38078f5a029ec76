"""CI platforms written outside the package, against ``mlops_actions.platforms.base`` alone."""
