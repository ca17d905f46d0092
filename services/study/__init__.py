"""Study: the player (honest credit), attendance checks, exercises, hours and the overview, study records."""
