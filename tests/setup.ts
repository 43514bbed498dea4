import '#local/compat.js';
