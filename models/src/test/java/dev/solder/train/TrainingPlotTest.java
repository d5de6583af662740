package dev.solder.train;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainingPlotTest {
    @TempDir
    Path tmp;

    @Test
    void stepTicksAreRoundAndAtMostFourIntervals() {
        assertEquals(25, TrainingPlot.tickStep(100));     // 0, 25, 50, 75, 100
        assertEquals(100, TrainingPlot.tickStep(375));    // 0 ... 400
        assertEquals(250, TrainingPlot.tickStep(1000));
        assertEquals(5, TrainingPlot.tickStep(12));       // 0, 5, 10, 15
        assertEquals(1, TrainingPlot.tickStep(3));        // whole steps
        assertEquals(1, TrainingPlot.tickStep(1));
        assertEquals(20_000, TrainingPlot.tickStep(75_000));
    }

    @Test
    void oneEvaluationAtTheEndIsDrawnOnTheSharedStepAxis() throws IOException {
        Path png = tmp.resolve("training_curves.png");
        List<Map<String, Object>> history = List.of(
                Map.of("step", 50, "loss", 1.05, "learning_rate", 2.5e-5),
                Map.of("step", 100, "loss", 0.81, "learning_rate", 0.0),
                Map.of("step", 100, "eval_accuracy", 0.7067, "eval_loss", 0.675));
        TrainingPlot.write(png, history);
        BufferedImage img = ImageIO.read(png.toFile());
        assertEquals(900, img.getWidth());
        assertEquals(3 * 240, img.getHeight());
        // the eval point (green) at step 100 = the right end of the axis, not the middle of a 99-101 range
        int right = 900 - 30;
        int greenAtEnd = 0;
        int greenInMiddle = 0;
        for (int y = 2 * 240; y < 3 * 240; y++) {
            for (int x = right - 6; x <= right + 3; x++) {
                greenAtEnd += isEvalGreen(img.getRGB(x, y)) ? 1 : 0;
            }
            for (int x = 470; x <= 490; x++) {
                greenInMiddle += isEvalGreen(img.getRGB(x, y)) ? 1 : 0;
            }
        }
        assertEquals(0, greenInMiddle, "the single evaluation drawn mid-axis");
        assertEquals(true, greenAtEnd > 10, "no evaluation point at the axis end: " + greenAtEnd);
    }

    private static boolean isEvalGreen(int rgb) {
        int r = (rgb >> 16) & 0xff;
        int g = (rgb >> 8) & 0xff;
        int b = rgb & 0xff;
        return g > 120 && r < 90 && b < 90;
    }
}
