-- Explanations, PostgreSQL flavour (keep in step with ../sqlite/0006_explanations.sql).
-- predictions.explanation: the features that pulled the health score down most, as a JSON array of
-- {"feature", "value", "median", "contribution"} objects, most negative contribution first (contribution = health
-- as scored minus health with the feature at its training median). NULL when the prediction was not explained
-- (a card without a training distribution, an inverter window, a prediction stored before this migration).
-- TEXT like predictions.probabilities, so that one set of queries serves both engines.

ALTER TABLE predictions ADD COLUMN explanation TEXT CHECK (explanation IS NULL OR explanation::jsonb IS NOT NULL);
