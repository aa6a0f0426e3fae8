-- Explanations, SQLite flavour (keep in step with ../postgres/0006_explanations.sql).
-- predictions.explanation: the features that pulled the health score down most, as a JSON array of
-- {"feature", "value", "median", "contribution"} objects, most negative contribution first (contribution = health
-- as scored minus health with the feature at its training median). NULL when the prediction was not explained
-- (a card without a training distribution, an inverter window, a prediction stored before this migration).

ALTER TABLE predictions ADD COLUMN explanation TEXT CHECK (explanation IS NULL OR json_valid(explanation));
